Feature: Restricted records: gender history, fertility treatment, adoption and sexual health
  These records carry protection on top of the ordinary rules, for every purpose and whoever
  asks. Only narrow exceptions open them: the person's consent or agreement, a medical purpose
  where the person cannot consent, an emergency, safeguarding a child, or a court order.

  Scenario: Scenario 15: Gender history is not shared for direct care without agreement
    Given a ward nurse at Northgate Hospitals in the person's care team
    When they ask Riverside Medical Practice for the gender history for direct care
    Then sharing is not permitted
    And the reason mentions "Gender Recognition Act 2004 s22"
    And the legal basis includes Gender Recognition Act 2004 section 22
    And the deciding rule is restriction:gender-history
    And it would be permitted if the consent is explicit

  Scenario: Scenario 16: A sexual health record with the person's explicit consent
    Given a GP at Riverside Medical Practice in the person's care team
    And the person has given explicit consent
    When they ask Northgate Hospitals for the sexual health record for direct care
    Then sharing is permitted
    And the legal basis includes explicit consent
    And rule restriction:sexual-health-record is overridden
    And the deciding rule is ntg-restricted/sexual-health-with-consent

  Scenario: Gender history shared with the person's agreement
    Given a social worker at Northgate City Council in the person's care team
    And the person has given explicit consent
    When they ask Riverside Medical Practice for the gender history for direct care
    Then sharing is permitted
    And the legal basis includes section 22(4)
    And the deciding rule is ntg-restricted/gender-history-with-agreement

  Scenario: Gender history for a medical purpose when the person cannot consent
    Given a consultant at Northgate Hospitals in the person's care team
    And the person lacks capacity for this decision
    When they ask Castle Street Surgery for the gender history for direct care
    Then sharing is permitted
    And the legal basis includes SI 2005/916
    And the deciding rule is ntg-restricted/gender-history-medical-purpose

  Scenario: The medical-purpose exception is for health professionals only
    Given a social worker at Northgate City Council in the person's care team
    And the person lacks capacity for this decision
    When they ask Castle Street Surgery for the gender history for direct care
    Then sharing is not permitted
    And the deciding rule is restriction:gender-history

  Scenario: Gender history in a break-glass emergency
    Given a GP at Riverside Medical Practice
    And the person lacks capacity for this decision
    When they ask Northgate Hospitals for the gender history for emergency care
    And they give the justification "Unconscious; treatment depends on hormone therapy"
    Then sharing is permitted
    And the obligations include a retrospective review
    And the deciding rule is ntg-restricted/gender-history-medical-emergency

  Scenario: Fertility treatment shared with the person's consent
    Given a GP at Castle Street Surgery in the person's care team
    And the person has given explicit consent
    When they ask Northgate Hospitals for the fertility treatment for direct care
    Then sharing is permitted
    And the legal basis includes section 33A
    And the deciding rule is ntg-restricted/fertility-with-consent

  Scenario: Fertility treatment is not shared without consent
    Given a GP at Castle Street Surgery in the person's care team
    When they ask Northgate Hospitals for the fertility treatment for direct care
    Then sharing is not permitted
    And the deciding rule is restriction:fertility-treatment
    And it would be permitted if the consent is explicit

  Scenario: Fertility treatment in an emergency to avert imminent danger
    Given a consultant at Northgate Hospitals
    And the person lacks capacity for this decision
    When they ask Riverside Medical Practice for the fertility treatment for emergency care
    And they give the justification "Haemorrhage after egg collection; unconscious"
    Then sharing is permitted
    And the obligations include a retrospective review
    And the deciding rule is ntg-restricted/fertility-emergency

  Scenario: Sexual health records stay in the service without consent
    Given a GP at Riverside Medical Practice in the person's care team
    When they ask Northgate Hospitals for the sexual health record for direct care
    Then sharing is not permitted
    And the reason mentions "anonymous-access service"
    And the deciding rule is restriction:sexual-health-record
    And it would be permitted if the consent is explicit

  Scenario: A sexual health record for emergency treatment
    Given a ward nurse at Northgate Hospitals
    And the person lacks capacity for this decision
    When they ask Northgate Community Health for the sexual health record for emergency care
    And they give the justification "Unconscious; on HIV treatment, need current regimen"
    Then sharing is permitted
    And the legal basis includes Article 9(2)(c)
    And the deciding rule is ntg-restricted/sexual-health-emergency-treatment

  Scenario: Consent does not take a sexual health record to a home care worker
    Given a home care worker at Northgate City Council in the person's care team
    And the person has given explicit consent
    When they ask Northgate Hospitals for the sexual health record for direct care
    Then sharing is not permitted
    And the deciding rule is restriction:sexual-health-record

  Scenario: Adoption records are not shared for care, even with consent
    Given a GP at Riverside Medical Practice in the person's care team
    And the person has given explicit consent
    When they ask Northgate City Council for the adoption record for direct care
    Then sharing is not permitted
    And the legal basis includes Adoption Agencies Regulations 2005
    And the deciding rule is restriction:adoption-record
    And nothing would make it permitted

  Scenario: A court order opens an adoption record
    Given a police officer at Northgate Constabulary
    When they ask Northgate City Council for the adoption record for legal obligation
    Then sharing is permitted
    And the deciding rule is ntg-restricted/court-order
    And they must consult the Caldicott Guardian

  Scenario Outline: Each restriction holds for direct care in the care team (<record>)
    Given a consultant at Northgate Hospitals in the person's care team
    When they ask Riverside Medical Practice for the <record> for direct care
    Then sharing is not permitted
    And the deciding rule is <rule>

    Examples:
      | record               | rule                                |
      | gender history       | restriction:gender-history       |
      | fertility treatment  | restriction:fertility-treatment  |
      | adoption record      | restriction:adoption-record      |
      | sexual health record | restriction:sexual-health-record |
